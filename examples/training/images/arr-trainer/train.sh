#!/bin/sh
# A stand-in for the training job: says what it runs on, image by image.
echo "training on $(cat /opt/torch/VERSION)"
cat /opt/arr/lineage
