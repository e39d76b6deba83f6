"""Fakes of the seams (tests/contract proves each honours its protocol as the real one does)."""
