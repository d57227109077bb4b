"""When rules run: schedules, watermarks, gaps, backfill and the recorded runs of serve."""
