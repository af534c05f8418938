"""What the scheduler runs: each module does one job on rows and commits; app/scheduler.py says when."""
