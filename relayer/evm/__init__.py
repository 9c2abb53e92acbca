"""Thin web3.py layer: compiled artifacts, deployment, calls and custom-error decoding."""
