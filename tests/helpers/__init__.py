"""Test-only helpers (not part of the library): tiny data and weight files
(:mod:`.datagen`), distributed launches (:mod:`.launch`), tiny KDEP runs
(:mod:`.tiny`, :mod:`.kdep_tiny_cfg`) and fault-injection hooks
(:mod:`.fault_hooks`)."""
