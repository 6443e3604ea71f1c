"""What a payment link's URL shows outside the JSON API: the hosted pay page (rendered here, with
its script and style sheet in `static/`) and the link's QR codes. Routes: `api/links.py` (the
JSON API) and `api/pages.py` (these pages)."""
