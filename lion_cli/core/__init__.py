"""Pure logic: no I/O, no HTTP, no UI, no torch. Everything here is a function of its arguments."""
