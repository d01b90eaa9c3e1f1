"""FHIR bulk export: jobs as rows, the NDJSON writer, and the background worker."""
