"""Shared support (sleep-in, background support): arrangements, members and the month charge run."""
