import django_tables2 as tables
from django.core.paginator import EmptyPage, Page
from django.db.models import QuerySet

from .models import Contact

MAX_PAGE = 1_000_000


class DeepPageLazyPaginator(tables.LazyPaginator):
    """LazyPaginator (no COUNT) that reads a deep page's ids first, then only those rows.

    OFFSET 50,000 over full rows fetches 50,000 rows from the table; over the ids it is an
    index-only scan of the list-order index, and then 26 rows are read.
    """

    deep = 1000

    def validate_number(self, number):
        # A page past this is empty whatever the list; a bigger one overflows the OFFSET.
        return min(super().validate_number(number), MAX_PAGE)

    def page(self, number):
        number = self.validate_number(number or 1)
        bottom = (number - 1) * self.per_page
        queryset = self.object_list
        if bottom < self.deep or not isinstance(queryset, QuerySet):
            return super().page(number)
        top = bottom + self.per_page + self.orphans + 1  # one more: is there a next page?
        ids = list(queryset.values_list("pk", flat=True)[bottom:top])
        objects = list(queryset.filter(pk__in=ids)) if ids else []
        if len(objects) > self.per_page + self.orphans:
            self._num_pages = number + 1
            objects = objects[: self.per_page]
        elif len(objects) <= self.orphans:
            raise EmptyPage("That page contains no results")
        else:
            self._num_pages = self._final_num_pages = number
        return Page(objects, number, self)


class ContactTable(tables.Table):
    """The contacts list (C5): columns, headers and sorting. Only columns backed by an index
    sort, so sorting stays fast. The cells are rendered by contacts/contact_table.html."""

    ids = tables.CheckBoxColumn(
        accessor="pk",
        orderable=False,
        attrs={
            "th__input": {"data-select-all": "", "aria-label": "Select all contacts on this page"},
            "th": {"class": "col-select"},
        },
    )
    name = tables.Column(
        accessor="last_name", verbose_name="Name", order_by=("last_name", "first_name", "pk")
    )
    phone = tables.Column(order_by=("phone", "pk"))
    email = tables.Column(order_by=("email", "pk"))
    company = tables.Column(orderable=False, attrs={"th": {"class": "col-company"}})
    status = tables.Column(orderable=False)
    created_at = tables.Column(verbose_name="Added", order_by=("created_at", "pk"))

    class Meta:
        model = Contact
        fields = ("ids", "name", "phone", "email", "company", "status", "created_at")
        template_name = "contacts/contact_table.html"
        empty_text = "No contacts match these filters."
        attrs = {"class": "data-table"}
        order_by_field = "sort"
