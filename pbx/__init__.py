"""Everything that talks to Asterisk: runtime manager, config rendering, AMI/ARI controller."""
