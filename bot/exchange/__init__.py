"""Files in and out: importing offline comments and exporting responses."""
