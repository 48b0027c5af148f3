"""Delivery: sending what the outbox holds.

    dispatcher.py  claim due notifications → render → channel.send → record, retry, dead-letter
    render.py      a notification's message for its role and channel (with its acknowledge link)
    recent.py      the events just taken in, kept in memory for their deliveries
    health.py      channel health: a failing channel marked down, its notices wait, probes
    pacing.py      when each send to a rate-limited channel may go out
    process.py     delivery in a process of its own beside the local server
"""
