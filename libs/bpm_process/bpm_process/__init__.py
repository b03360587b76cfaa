"""Shared, pure BPMN tooling used by the designer and the runtime (no I/O).

* :mod:`bpm_process.xml` - safe XML parsing (no DTDs, entities or network; size and
  depth limits);
* :mod:`bpm_process.bpmn` - a neutral reader of BPMN 2.0 documents;
* :mod:`bpm_process.expressions` - the one safe expression language (JUEL and FEEL
  syntax) for conditions, assignment and form rules;
* :mod:`bpm_process.isotime` - ISO 8601 date-times, durations and repeating intervals;
* :mod:`bpm_process.namespaces` - the dialect namespaces and our own ``bpm`` namespace;
* :mod:`bpm_process.support` - what the runtime executes (shared with the lint);
* :mod:`bpm_process.assignment` - the people rules (``bpm:assignment``, ``bpm:copyTo``,
  RACI) and :mod:`bpm_process.timelimits` - working-time limits of user tasks;
* :mod:`bpm_process.platform` - the checks of those extensions the lint and the
  engine's compiler share;
* :mod:`bpm_process.jsontemplate` - JSON body templates of the HTTP connector (read by the
  engine's compiler and the lint alike);
* :mod:`bpm_process.errors` - :class:`BpmnError`;
* :mod:`bpm_process.engine` - the process engine: compiler and executor (the runtime
  runs it; the designer's lint runs its compiler on what it publishes).
"""
