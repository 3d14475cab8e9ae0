#!/bin/sh
echo "would submit a Vertex AI custom job for: $*"
