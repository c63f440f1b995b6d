"""The core every colorbench package builds on: colour, image IO, weights, devices, errors."""
