"""The designer service: process definitions (BPMN), their versions and publication, lint,
and the organisation model (departments, users, roles) that every other service follows."""
