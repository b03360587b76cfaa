"""What-if analysis: the cycle time a changed model would have, simulated from recorded
node durations and branch frequencies."""
