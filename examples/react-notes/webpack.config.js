// The same app built by webpack 5 (`npm run build:webpack` → dist-webpack/).
// Nothing here is for the wasm package: webpack emits notes_wasm_bg.wasm as an
// asset from the `web` target's `new URL(..., import.meta.url)` on its own. The
// rules are for TypeScript + JSX (esbuild-loader) and the page (index.html, less
// Vite's entry script); CSS imports use webpack's built-in CSS support.
import { readFileSync } from "node:fs";
import { fileURLToPath } from "node:url";
import HtmlWebpackPlugin from "html-webpack-plugin";

export default (_env, argv) => ({
  mode: argv.mode ?? "production",
  entry: "./src/main.tsx",
  output: {
    path: fileURLToPath(new URL("./dist-webpack/", import.meta.url)),
    filename: "[name].[contenthash].js",
    clean: true,
  },
  resolve: { extensions: [".tsx", ".ts", "..."] },
  module: {
    rules: [{ test: /\.tsx?$/, loader: "esbuild-loader", options: { target: "es2022", jsx: "automatic" } }],
  },
  plugins: [
    new HtmlWebpackPlugin({
      templateContent: readFileSync(new URL("./index.html", import.meta.url), "utf8").replace(
        /\s*<script type="module" src="\/src\/main\.tsx"><\/script>/,
        "",
      ),
    }),
  ],
  performance: { hints: false },
});
