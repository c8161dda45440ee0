"""Lightning callbacks of the SiamMask framework."""
