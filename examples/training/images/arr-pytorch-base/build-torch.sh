#!/bin/sh
# Stands for the expensive stage: compiling PyTorch. Here it writes what it "built".
set -eu
mkdir -p /opt/torch
echo "torch 2.4.0 (example build)" > /opt/torch/VERSION
