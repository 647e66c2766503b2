"""Studies built on ensembles: strategy comparison and budget frontier, sensitivity analysis and
scenario discovery, hindcast and calibration. Import from the submodules
(``policysim.studies.compare``, ``.frontier``, ``.sensitivity``, ``.hindcast``, ``.calibrate``)."""
