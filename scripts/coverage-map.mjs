// tap's coverage map: whatever a test file is, coverage is measured on the product (src/, through the
// compiled dist/src and its source maps), never on the tests and their helpers.
export default () => ['dist/src/**/*.js'];
