#!/usr/bin/env node
// Compiles contracts/**/*.sol with solcjs standard JSON into contracts/out/artifacts.json.
// Deterministic: sources are read in sorted order, metadata hashes are left out of the bytecode, and the
// output is written with sorted keys. Skips work when the source hash matches the existing artifacts.
'use strict';
const fs = require('fs');
const path = require('path');
const crypto = require('crypto');

const ROOT = path.resolve(__dirname, '..');
const CONTRACTS = path.join(ROOT, 'contracts');
const OUT_DIR = path.join(CONTRACTS, 'out');
const OUT = path.join(OUT_DIR, 'artifacts.json');
const NODE_MODULES = path.join(ROOT, 'node_modules');

function fail(message) {
  process.stderr.write(`contracts: ${message}\n`);
  process.exit(1);
}

let solc;
try {
  solc = require(path.join(NODE_MODULES, 'solc'));
  require.resolve(path.join(NODE_MODULES, '@openzeppelin/contracts/package.json'));
} catch (err) {
  fail('node_modules is missing solc or @openzeppelin/contracts; run `make install` (npm ci) first');
}

function listSources(dir) {
  const found = [];
  for (const entry of fs.readdirSync(dir, { withFileTypes: true })) {
    const full = path.join(dir, entry.name);
    if (entry.isDirectory()) {
      if (entry.name !== 'out') found.push(...listSources(full));
    } else if (entry.name.endsWith('.sol')) {
      found.push(full);
    }
  }
  return found.sort();
}

const SETTINGS = {
  optimizer: { enabled: true, runs: 200 },
  evmVersion: 'cancun',
  metadata: { bytecodeHash: 'none', appendCBOR: false },
  outputSelection: { '*': { '*': ['abi', 'evm.bytecode.object', 'evm.deployedBytecode.object'] } },
};

const files = listSources(CONTRACTS);
if (files.length === 0) fail('no .sol sources under contracts/');
const sources = {};
const hash = crypto.createHash('sha256');
hash.update(solc.version());
hash.update(JSON.stringify(SETTINGS));
for (const file of files) {
  const name = path.relative(CONTRACTS, file).split(path.sep).join('/');
  const content = fs.readFileSync(file, 'utf8');
  sources[name] = { content };
  hash.update(name);
  hash.update('\0');
  hash.update(content);
  hash.update('\0');
}
const sourceHash = hash.digest('hex');

if (fs.existsSync(OUT)) {
  try {
    if (JSON.parse(fs.readFileSync(OUT, 'utf8')).sourceHash === sourceHash) {
      process.stdout.write(`contracts: up to date (${files.length} sources)\n`);
      process.exit(0);
    }
  } catch (err) {
    // unreadable artifacts: rebuild below
  }
}

function findImports(importPath) {
  for (const base of [CONTRACTS, NODE_MODULES]) {
    const candidate = path.join(base, importPath);
    if (fs.existsSync(candidate)) return { contents: fs.readFileSync(candidate, 'utf8') };
  }
  return { error: `import not found: ${importPath}` };
}

const started = Date.now();
const input = { language: 'Solidity', sources, settings: SETTINGS };
const output = JSON.parse(solc.compile(JSON.stringify(input), { import: findImports }));
const problems = output.errors || [];
for (const problem of problems) process.stderr.write(problem.formattedMessage || problem.message);
if (problems.some((p) => p.severity === 'error')) fail('compilation failed');
// our own sources compile without warnings; dependencies' warnings are shown but not fatal
const ours = (p) => p.sourceLocation && p.sourceLocation.file in sources;
if (problems.some((p) => p.severity === 'warning' && ours(p))) fail('warnings in contracts/ (fix them)');

const contracts = {};
for (const unit of Object.keys(output.contracts || {}).sort()) {
  if (!(unit in sources)) continue; // dependencies (OpenZeppelin) are not artifacts of ours
  for (const name of Object.keys(output.contracts[unit]).sort()) {
    const c = output.contracts[unit][name];
    if (name in contracts) fail(`two contracts are named ${name}`);
    contracts[name] = {
      source: unit,
      abi: c.abi,
      bytecode: '0x' + c.evm.bytecode.object,
      deployedBytecode: '0x' + c.evm.deployedBytecode.object,
    };
  }
}

function sortKeys(value) {
  if (Array.isArray(value)) return value.map(sortKeys);
  if (value && typeof value === 'object') {
    return Object.fromEntries(Object.keys(value).sort().map((k) => [k, sortKeys(value[k])]));
  }
  return value;
}

fs.mkdirSync(OUT_DIR, { recursive: true });
const artifact = sortKeys({ compiler: `solc-js ${solc.version()}`, settings: SETTINGS, sourceHash, contracts });
const tmp = `${OUT}.tmp`;
fs.writeFileSync(tmp, JSON.stringify(artifact, null, 1) + '\n');
fs.renameSync(tmp, OUT);
process.stdout.write(
  `contracts: compiled ${Object.keys(contracts).length} contracts from ${files.length} sources in ${Date.now() - started} ms\n`,
);
