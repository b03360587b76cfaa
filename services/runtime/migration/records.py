"""Engine records of this domain turned into stored state (see instances/applier.py).

`instance_migrated` needs what the record does not carry (the new definition id and
version, the migration it belongs to), so `migration/batch.py` records it right after
the engine command, under the same instance lock: history entry, `instance.migrated`,
and the instance's, tasks' and timers' move to the new version.
"""
