"""Working time: the business calendar and how much of a span falls in its working hours."""
