# Shortcuts for the two README commands.
.PHONY: run test
run:
	scripts/run
test:
	scripts/test
