// Jest in ESM mode for an ES module package: no transform (babel-jest would turn the
// test files into CommonJS, which cannot `import` flux-capacitor), Node environment.
export default {
  testEnvironment: "node",
  transform: {},
};
