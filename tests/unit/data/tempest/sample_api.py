"""The source of ``sample.subunit`` and ``sample.xml``: a few tests shaped like Tempest's (ids
with attributes, passes, a failure, a skip, a class skipped in setUpClass, an expected
failure), run by the subunit runner of Tempest's virtualenv, whose ``subunit2junitxml`` made the
XML (the unit tests read both; this file is not run by them)::

    VENV/bin/python -m subunit.run sample_api > sample.subunit
    VENV/bin/subunit2junitxml --no-passthrough -o sample.xml < sample.subunit
"""
import unittest

import testtools
from testtools import testcase


class FlavorsTestJSON(testcase.WithAttributes, testtools.TestCase):
    @testcase.attr("id-1f12046b-753d-40d2-abb6-d8eb8b30cb2f")
    @testcase.attr("smoke")
    def test_get_flavor(self):
        self.assertEqual(1, 1)

    @testcase.attr("id-e36c0eaa-dff5-4082-ad1f-3f9a80aa3f59")
    def test_list_flavors(self):
        pass


class VolumesGetTestJSON(testcase.WithAttributes, testtools.TestCase):
    @testcase.attr("id-54a01030-c7fc-447c-86ee-c1182beae638")
    def test_volume_create_get_delete(self):
        raise Exception("Volume abc failed to reach available status (current error) "
                        "within the required time (300 s).")

    @testcase.attr("id-2a8abe3a-1fe9-4d9e-9dff-2a9bdd69a8c9")
    def test_volume_snapshot(self):
        self.skipTest("Cinder volume snapshots are disabled")


class ServersNegativeTestJSON(unittest.TestCase):
    @classmethod
    def setUpClass(cls):
        raise unittest.SkipTest("Neutron is not available")

    def test_reboot_non_existent_server(self):
        pass


class ImagesTestJSON(testcase.WithAttributes, testtools.TestCase):
    @testcase.attr("id-9959ca1d-1aa7-4b7a-a1ea-0fff0499b37e")
    @unittest.expectedFailure
    def test_known_bug(self):
        self.assertEqual(1, 2)
