"""The fault suite: hostile servers, kills at named points, storage faults, fuzz (see README, Reliability)."""
