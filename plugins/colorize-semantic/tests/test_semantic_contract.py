from colorize_devkit.testing import method_contract_tests

test_contract = method_contract_tests(distribution="colorize-semantic")
