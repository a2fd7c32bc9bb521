"""What every run shares: flags and their resolution, the run directory, the training loop, export."""
