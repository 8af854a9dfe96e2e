from core.testing import method_contract_tests

test_contract = method_contract_tests(distribution="colorize-semantic")
