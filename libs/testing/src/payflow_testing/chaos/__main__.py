"""`python -m payflow_testing.chaos --help`."""

from payflow_testing.chaos.cli import main

if __name__ == "__main__":
    main()
