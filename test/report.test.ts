import { expect } from 'chai';
import { ticks, paretoFront, scatterSvg } from '../src/report/svg.js';

describe('plots', () => {
  it('puts axis ticks on round values inside the data range', () => {
    expect(ticks(5, 11)).to.deep.equal([6, 8, 10]);
    expect(ticks(30.64, 71)).to.deep.equal([40, 50, 60, 70]);
    expect(ticks(0, 1)).to.deep.equal([0, 0.2, 0.4, 0.6, 0.8, 1]);
    expect(ticks(3, 3)).to.deep.equal([3]);
  });

  it('keeps the points of maximal score for minimal cost on the Pareto front', () => {
    const front = paretoFront([{ x: 1, y: 1 }, { x: 2, y: 0.5 }, { x: 3, y: 2 }, { x: 4, y: 1.5 }]);
    expect(front.map((p) => p.x)).to.deep.equal([1, 3]);
  });

  it('joins each series by a line when asked (learning curves)', () => {
    const pts = [1, 2, 3].flatMap((x) => [{ x, y: x, series: 'a' }, { x, y: 2 * x, series: 'b' }]);
    const svg = scatterSvg(pts, { title: 't', xLabel: 'x', yLabel: 'y', connect: true });
    expect(svg.match(/<polyline/g)).to.have.length(2);
    expect(scatterSvg(pts, { title: 't', xLabel: 'x', yLabel: 'y' })).to.not.include('<polyline');
  });
});
