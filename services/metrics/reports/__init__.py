"""Reports for managers and process owners: the weekly KPI report and version comparisons,
as JSON, CSV or Excel."""
