import django_tables2 as tables
from django.core.paginator import EmptyPage, Page
from django.db.models import BooleanField, ExpressionWrapper, F, Q, QuerySet, Value
from django.db.models.functions import Coalesce, Collate, NullIf
from django_tables2.rows import BoundRows

from core.collation import NAME_COLLATION

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
        queryset = _queryset(self.object_list)
        if bottom < self.deep or queryset is None:
            return super().page(number)
        top = bottom + self.per_page + self.orphans + 1  # one more: is there a next page?
        ids = list(queryset.values_list("pk", flat=True)[bottom:top])
        objects = list(queryset.filter(pk__in=ids)) if ids else []
        if isinstance(self.object_list, BoundRows):  # what the table's template iterates
            objects = BoundRows(objects, table=self.object_list.table)
        if len(objects) > self.per_page + self.orphans:
            self._num_pages = number + 1
            objects = objects[: self.per_page]
        elif len(objects) <= self.orphans:
            raise EmptyPage("That page contains no results")
        else:
            self._num_pages = self._final_num_pages = number
        return Page(objects, number, self)


def _queryset(rows) -> QuerySet | None:
    """The QuerySet under a table's rows (BoundRows of TableQuerysetData), or under nothing."""
    data = getattr(rows, "data", rows)
    data = getattr(data, "data", data)
    return data if isinstance(data, QuerySet) else None


def _empty(q: Q) -> ExpressionWrapper:
    """True where a value is missing: sorted first on it, false < true puts empties last."""
    return ExpressionWrapper(q, output_field=BooleanField())


def _direction(expression, descending: bool):
    return expression.desc() if descending else expression.asc()


class ContactTable(tables.Table):
    """The contacts list (C5): columns, headers and sorting. The cells are rendered by
    contacts/contact_table.html.

    Each sort is chosen here (only these columns' names are accepted from ?sort=; tables2
    ignores any other) and ends on the id, so pages never share or skip a row. Missing
    values (no name, no phone, no email) come last in both directions; names ignore case
    and accents. On PostgreSQL each sort, each way, walks an index holding exactly these
    expressions (contacts/migrations/0008_sort_indexes.py): change one here, change its
    index there (tests/contacts/test_sort_plans.py fails until both agree).
    """

    ids = tables.CheckBoxColumn(
        accessor="pk",
        orderable=False,
        attrs={
            "th__input": {"data-select-all": "", "aria-label": "Select all contacts on this page"},
            "th": {"class": "col-select"},
        },
    )
    name = tables.Column(accessor="last_name", verbose_name="Name")
    phone = tables.Column()
    email = tables.Column()
    company = tables.Column(orderable=False, attrs={"th": {"class": "col-company"}})
    status = tables.Column()
    created_at = tables.Column(verbose_name="Added")

    class Meta:
        model = Contact
        fields = ("ids", "name", "phone", "email", "company", "status", "created_at")
        template_name = "contacts/contact_table.html"
        empty_text = "No contacts match these filters."
        attrs = {"class": "data-table"}
        order_by_field = "sort"
        # Rows per page is read by the view, from its few choices: tables2 would take any
        # ?per_page= (a million rows on one page) from a field of this name.
        per_page_field = "per_page_is_read_by_the_view"

    def order_name(self, queryset: QuerySet, is_descending: bool):
        # By last name, or the first name when that is all there is ("Cher" under C).
        surname = Coalesce(NullIf("last_name", Value("")), "first_name")
        return queryset.order_by(
            _empty(Q(last_name="", first_name="")),
            _direction(Collate(surname, NAME_COLLATION), is_descending),
            _direction(Collate("first_name", NAME_COLLATION), is_descending),
            _direction(F("pk"), is_descending),
        ), True

    def order_phone(self, queryset: QuerySet, is_descending: bool):
        return queryset.order_by(
            _empty(Q(phone="")), _direction(F("phone"), is_descending), "pk"
        ), True

    def order_email(self, queryset: QuerySet, is_descending: bool):
        return queryset.order_by(
            _empty(Q(email="")), _direction(F("email"), is_descending), "pk"
        ), True

    def order_status(self, queryset: QuerySet, is_descending: bool):
        # Within a status, the list order (newest first).
        return queryset.order_by(_direction(F("status"), is_descending), "-created_at", "-pk"), True

    def order_created_at(self, queryset: QuerySet, is_descending: bool):
        return queryset.order_by(
            _direction(F("created_at"), is_descending), _direction(F("pk"), is_descending)
        ), True
