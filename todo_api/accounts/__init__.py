"""What belongs to a user across every table: erasing all of it."""
