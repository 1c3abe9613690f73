"""The contacts pages, by what each module owns.

- listing.py: the contacts list, its "all N matching" count, batch operations, delete all
- contact.py: one contact (detail, create, edit, delete, opt out and back in)
- groups.py: the groups side panel, create, edit, delete
- exports.py: CSV exports, now or as a background job
- imports.py: the import wizard (upload, map, preview and confirm, progress)
- common.py: what they share (the group in the query string, form errors)
"""
