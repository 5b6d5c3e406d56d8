"""Maximus: the command line, native-mode supervision, and what every service shares."""
