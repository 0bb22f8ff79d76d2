"""Fit the shipped calibrations from a ratings CSV (default: HANNA dev); see evalkit/calibration_fit.py."""

import sys

from evalkit.calibration_fit import main

if __name__ == "__main__":
    sys.exit(main())
