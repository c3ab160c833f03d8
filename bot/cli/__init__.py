"""Command-line front ends of `otpbot` (argparse and printing only; the work is in handlers/ and adapters/)."""
