"""What every Maximus service shares: OpenAI-shaped errors and the HTTP app conventions.

It sits below the services and the `maximus` CLI and imports none of them, so imports only run downward.
"""
