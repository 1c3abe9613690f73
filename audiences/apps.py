from django.apps import AppConfig


class AudiencesConfig(AppConfig):
    name = "audiences"

    def ready(self) -> None:
        # The contacts list, its batch operations and exports filter by a smart group through
        # this hook (contacts cannot import the apps above it).
        from contacts import filters

        from .selectors import smart_group_filter_q

        filters.smart_group_q = smart_group_filter_q
