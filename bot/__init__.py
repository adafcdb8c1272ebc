"""Runtime of the points bot: events, transports, dispatch, scheduling; knows nothing about points."""
