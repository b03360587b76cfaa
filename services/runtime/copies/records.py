"""Engine records of this domain turned into stored state (see instances/applier.py)."""
