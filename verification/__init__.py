"""Verification layer: finite-size torch Monte Carlo (HMC, Langevin) and Adam training against the theory."""
