"""Process templates ready to install: each a BPMN file (`<name>.bpmn`) with its forms
and the data dictionaries they use (`<name>.json`)."""
