"""The import wizard (I2, I5): upload/paste -> map -> preview + confirm -> progress -> summary."""

import phonenumbers
from django import forms
from django.contrib import messages
from django.http import HttpRequest, HttpResponse
from django.shortcuts import redirect, render
from django.urls import reverse
from django.views.decorators.http import require_http_methods
from django_htmx.http import HttpResponseClientRedirect

from accounts.decorators import workspace_required
from core.csv import csv_response
from core.forms import RegionField
from core.htmx import render_htmx

from ..importing import (
    ImportFileError,
    ImportTooLarge,
    import_counts,
    import_job_confirm,
    import_job_create,
    import_job_create_from_text,
    import_job_error_rows,
    import_job_get,
    import_job_inspect,
    import_job_preview,
    import_job_read_state,
    import_job_refresh,
    import_job_resume,
    import_job_set_mapping,
    import_job_set_options,
)
from ..importing.mapping import FIELDS, METADATA_PREFIX, metadata_key
from ..models import ContactGroup, ImportJob, JobStatus

SAMPLE_CSV = (
    "First Name,Last Name,Phone,Email,Company,Appointment Date\r\n"
    "Ada,Lovelace,(415) 555-0132,ada@example.com,Analytical Engines,2026-03-15\r\n"
    "Grace,Hopper,+1 212 555 0199,grace@example.com,US Navy,2026-03-16\r\n"
    "Alan,Turing,,alan@example.com,Bletchley Park,\r\n"
)


class ImportUploadForm(forms.Form):
    file = forms.FileField(
        required=False,
        label="File",
        help_text="CSV, TSV, text, Excel (.xlsx, .xls, .ods) or vCard (.vcf).",
        widget=forms.ClearableFileInput(attrs={"accept": ".csv,.tsv,.txt,.xlsx,.xls,.ods,.vcf"}),
    )
    text = forms.CharField(
        required=False,
        label="…or paste rows",
        widget=forms.Textarea(
            attrs={
                "rows": 6,
                "placeholder": "Name,Phone,Email\nAda Lovelace,+14155550132,ada@example.com",
            }
        ),
        help_text="Comma, semicolon or tab separated, with a header row.",
    )

    def clean(self):
        data = super().clean()
        if not data.get("file") and not (data.get("text") or "").strip():
            raise forms.ValidationError("Choose a file or paste some rows.")
        return data


class ImportConfirmForm(forms.Form):
    group = forms.ModelChoiceField(
        queryset=ContactGroup.objects.none(),
        required=False,
        label="Existing group",
        empty_label="— New group —",
    )
    new_group = forms.CharField(required=False, max_length=120, label="New group name")
    duplicate_strategy = forms.ChoiceField(
        choices=ImportJob.DuplicateStrategy.choices,
        initial=ImportJob.DuplicateStrategy.SKIP,
        widget=forms.RadioSelect,
        label="When a row matches an existing contact (same phone or email)",
    )
    default_region = RegionField(
        label="Default country for phone numbers",
        help_text="Used for numbers written without a +country code.",
    )

    def __init__(self, *args, workspace, **kwargs):
        super().__init__(*args, **kwargs)
        self.fields["group"].queryset = ContactGroup.objects.for_workspace(workspace)

    def clean(self):
        data = super().clean()
        if not data.get("group") and not (data.get("new_group") or "").strip():
            self.add_error("new_group", "Choose an existing group or name a new one.")
        return data


@workspace_required
@require_http_methods(["GET", "POST"])
def import_start(request: HttpRequest) -> HttpResponse:
    form = ImportUploadForm(request.POST or None, request.FILES or None)
    status = 200
    group_id = request.GET.get("group", "")
    into = (
        ContactGroup.objects.for_workspace(request.workspace).filter(pk=group_id).first()
        if group_id.isdigit() and len(group_id) < 19
        else None
    )
    if request.method == "POST" and form.is_valid():
        upload = form.cleaned_data.get("file")
        # started from a group's page: the preview preselects it
        options = {"group_id": into.pk} if into is not None else {}
        try:
            if upload:
                job = import_job_create(
                    workspace=request.workspace,
                    user=request.user,
                    file=upload,
                    filename=upload.name,
                    options=options,
                )
            else:
                job = import_job_create_from_text(
                    workspace=request.workspace,
                    user=request.user,
                    text=form.cleaned_data["text"],
                    options=options,
                )
        except ImportFileError as exc:
            form.add_error(None, exc.message)
            status = 413 if isinstance(exc, ImportTooLarge) else 200
        else:
            # A worker reads the file; the next page waits for it (#13).
            return redirect("contacts:import-map", job.pk)
    recent = (
        ImportJob.objects.for_workspace(request.workspace)
        .exclude(confirmed_at=None)
        .select_related("group")[:10]
    )
    return render(
        request,
        "contacts/imports/start.html",
        {"form": form, "recent": recent, "into": into},
        status=status,
    )


def _mapping_rows(inspection, posted: dict | None = None):
    rows = []
    for index, header in enumerate(inspection.headers):
        current = (posted or inspection.mapping).get(header, "")
        is_custom = current.startswith(METADATA_PREFIX)
        rows.append(
            {
                "index": index,
                "header": header,
                "samples": inspection.samples[index],
                "choice": "metadata" if is_custom else current,
                "custom": current[len(METADATA_PREFIX) :] if is_custom else metadata_key(header),
            }
        )
    return rows


def _reading(request: HttpRequest, job: ImportJob) -> HttpResponse | None:
    """While a worker reads the file, or when it could not: the waiting page (polled by htmx),
    or the reason. None once it is read."""
    state = import_job_read_state(job)
    polled = getattr(request, "htmx", None) and request.htmx.target == "import-reading"
    if state == "ready" or (state == "failed" and polled):
        return None  # the poll loads the next page (or the reason) whole
    context = {"job": job, "state": state, "retry": _start_url(job)}
    return render_htmx(
        request, "contacts/imports/reading.html", context, fragments={"import-reading": "reading"}
    )


def _start_url(job: ImportJob) -> str:
    url = reverse("contacts:import-start")
    group_id = (job.options or {}).get("group_id")
    return f"{url}?group={group_id}" if group_id else url


@workspace_required
@require_http_methods(["GET", "POST"])
def import_map(request: HttpRequest, job_id: int) -> HttpResponse:
    job = import_job_get(workspace=request.workspace, job_id=job_id)
    if job.confirmed_at:
        return redirect("contacts:import-detail", job.pk)
    if request.method == "POST" and request.POST.get("action") == "options":
        # how the file is read (header row, sheet): a worker reads it again
        options = job.options or {}
        import_job_set_options(
            job=job,
            has_header=request.POST.get("has_header", "1") == "1",
            sheet=request.POST.get("sheet", options.get("sheet", "")),
        )
        return redirect("contacts:import-map", job.pk)
    waiting = _reading(request, job)
    if waiting is not None:
        return waiting
    if getattr(request, "htmx", None) and request.htmx.target == "import-reading":
        # the waiting page polled and the file is read (or cannot be): load the page whole
        if job.format == ImportJob.Format.VCARD and import_job_read_state(job) == "ready":
            return HttpResponseClientRedirect(reverse("contacts:import-preview", args=[job.pk]))
        return HttpResponseClientRedirect(reverse("contacts:import-map", args=[job.pk]))
    if job.format == ImportJob.Format.VCARD:
        if not job.mapping:
            import_job_set_mapping(job=job, mapping=None)
        return redirect("contacts:import-preview", job.pk)
    options = dict(job.options or {})
    error = ""
    posted = None
    inspection = import_job_inspect(job=job)
    if request.method == "POST":
        posted = {}
        for index, header in enumerate(inspection.headers):
            choice = request.POST.get(f"map-{index}", "")
            if choice == "metadata":
                choice = METADATA_PREFIX + (
                    request.POST.get(f"custom-{index}", "").strip() or metadata_key(header)
                )
            posted[header] = choice
        try:
            import_job_set_mapping(job=job, mapping=posted)
        except ImportFileError as exc:
            error = exc.message
        else:
            return redirect("contacts:import-preview", job.pk)
    context = {
        "job": job,
        "inspection": inspection,
        "rows": _mapping_rows(inspection, posted),
        "fields": FIELDS,
        "has_header": options.get("has_header", True),
        "header_guessed": options.get("header_guessed") and not options.get("has_header", True),
        "error": error,
    }
    return render(request, "contacts/imports/map.html", context)


@workspace_required
@require_http_methods(["GET", "POST"])
def import_preview(request: HttpRequest, job_id: int) -> HttpResponse:
    job = import_job_get(workspace=request.workspace, job_id=job_id)
    if job.confirmed_at:
        return redirect("contacts:import-detail", job.pk)
    if not job.mapping or import_job_read_state(job) != "ready":
        return redirect("contacts:import-map", job.pk)
    form = ImportConfirmForm(
        request.POST or None,
        workspace=request.workspace,
        initial={
            "default_region": (job.options or {}).get("default_region", "US"),
            "group": (job.options or {}).get("group_id"),
        },
    )
    if request.method == "POST" and form.is_valid():
        data = form.cleaned_data
        try:
            import_job_confirm(
                job=job,
                group=data["group"],
                group_name=data["new_group"],
                duplicate_strategy=data["duplicate_strategy"],
                default_region=data["default_region"],
            )
        except ImportFileError as exc:
            form.add_error(None, exc.message)
        else:
            return redirect("contacts:import-detail", job.pk)
    # the country for numbers without +code: the preview follows the select as it changes
    form.fields["default_region"].widget.attrs.update(
        {
            "hx-get": reverse("contacts:import-preview", args=[job.pk]),
            "hx-trigger": "change",
            "hx-target": "#preview-rows",
            "hx-swap": "outerHTML",
        }
    )
    region = form.data.get("default_region") if form.is_bound else request.GET.get("default_region")
    if region and region.strip().upper() in phonenumbers.SUPPORTED_REGIONS:
        form.initial["default_region"] = region.strip().upper()
        job.options = {**(job.options or {}), "default_region": region.strip().upper()}
    try:
        plan, preview = import_job_preview(job=job)
    except ImportFileError as exc:
        messages.error(request, exc.message)
        return redirect("contacts:import-map", job.pk)
    mapped = {f for _, f in plan.fields}
    if "full_name" in mapped:
        mapped |= {"first_name", "last_name"}
    columns = [
        name for name in ("first_name", "last_name", "phone", "email", "company") if name in mapped
    ]
    meta_keys = [key for _, key in plan.metadata]
    context = {
        "job": job,
        "form": form,
        "preview": preview,
        "columns": columns,
        "meta_keys": meta_keys,
        "labels": FIELDS,
        "span": len(columns) + len(meta_keys),
    }
    return render_htmx(
        request, "contacts/imports/preview.html", context, fragments={"preview-rows": "rows"}
    )


@workspace_required
@require_http_methods(["GET"])
def import_detail(request: HttpRequest, job_id: int) -> HttpResponse:
    job = import_job_refresh(job=import_job_get(workspace=request.workspace, job_id=job_id))
    if job.confirmed_at is None:
        return redirect("contacts:import-map", job.pk)
    context = {
        "job": job,
        "counts": import_counts(job),
        "percent": int(100 * job.rows_done / job.total_rows) if job.total_rows else 0,
        "active": job.status in (JobStatus.PENDING, JobStatus.RUNNING),
    }
    return render_htmx(
        request, "contacts/imports/detail.html", context, fragments={"import-progress": "progress"}
    )


@workspace_required
@require_http_methods(["POST"])
def import_resume(request: HttpRequest, job_id: int) -> HttpResponse:
    job = import_job_get(workspace=request.workspace, job_id=job_id)
    try:
        import_job_resume(job=job)
    except ImportFileError as exc:
        messages.error(request, exc.message)
    else:
        messages.success(request, "The import was resumed; it continues where it stopped.")
    return redirect("contacts:import-detail", job.pk)


@workspace_required
@require_http_methods(["GET"])
def import_errors_csv(request: HttpRequest, job_id: int) -> HttpResponse:
    job = import_job_get(workspace=request.workspace, job_id=job_id)
    rows = import_job_error_rows(job=job)
    return csv_response(rows, filename=f"import-{job.pk}-skipped-rows.csv")


@workspace_required
@require_http_methods(["GET"])
def import_sample_csv(request: HttpRequest) -> HttpResponse:
    response = HttpResponse(SAMPLE_CSV, content_type="text/csv; charset=utf-8")
    response["Content-Disposition"] = 'attachment; filename="herald-contacts-sample.csv"'
    return response
