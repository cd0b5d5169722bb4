// The one seeded generator of the tests and the bench lives in bench/lib, which the bench build
// compiles (it does not compile test/); test code keeps importing it from here.
export { mulberry32 } from '../../bench/lib/seeded-random.js';
