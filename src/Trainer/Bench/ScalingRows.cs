using System.Globalization;

namespace HpcAdam.Trainer.Bench;

/// <summary>
/// A measured point of `hpcadam bench scaling` and the cost model's prediction of it. Efficiency is
/// against the same mode's 1-rank point, measured for the measurement and predicted for the prediction;
/// the error is (predicted − measured) / measured step time.
/// </summary>
internal sealed record MeasuredRow(ScalingPoint Measured, double Efficiency, ScalingPoint Predicted, double PredictedEfficiency)
{
    public double Error => (Predicted.StepMs - Measured.StepMs) / Measured.StepMs;

    /// <summary>Every measured point beside the model's prediction of it, the model calibrated on the same mode's 1-rank point.</summary>
    public static List<MeasuredRow> BesideTheModel(MeasuredScaling measured, IEnumerable<ScalingMode> modes, string model, SharedNode? node)
    {
        var rows = new List<MeasuredRow>();
        foreach (ScalingMode mode in modes)
        {
            ScalingPoint[] points = measured.Points.Where(point => point.Mode == mode.Name).OrderBy(point => point.Ranks).ToArray();
            ScalingPoint one = points.Single(point => point.Ranks == 1);
            var costs = new StepCostModel(StepCalibration.FromOneRank(model, measured.Parameters, one), measured.Network, Node: node);
            ScalingPoint predictedOne = costs.Predict(mode.Name, 1, one.Kappa);
            foreach (ScalingPoint point in points)
            {
                ScalingPoint predicted = costs.Predict(mode.Name, point.Ranks, point.Kappa);
                rows.Add(new MeasuredRow(point, point.EfficiencyAgainst(one), predicted, predicted.EfficiencyAgainst(predictedOne)));
            }
        }
        return rows;
    }

    public const string Header =
        "# mode    ranks  kappa  samples/s   compute     comm    optim    stats    other    total   MB/step  efficiency |  model ms  model eff   error\n" +
        "#                                     (ms)     (ms)     (ms)     (ms)     (ms)     (ms)";

    public string Format()
    {
        ScalingPoint p = Measured;
        return string.Format(CultureInfo.InvariantCulture,
            "  {0,-6} {1,6} {2,6} {3,10:F0} {4,9:F2} {5,8:F2} {6,8:F2} {7,8:F2} {8,8:F2} {9,8:F2} {10,9:F3} {11,11:F3} | {12,9:F2} {13,10:F3} {14,7}",
            p.Mode, p.Ranks, p.Kappa, p.SamplesPerSecond, p.Ms.Compute, p.Ms.Communication, p.Ms.Optimizer, p.Ms.Statistics, p.Ms.Other, p.StepMs,
            p.BytesPerStep / 1e6, Efficiency, Predicted.StepMs, PredictedEfficiency, SignedPercent(Error));
    }

    /// <summary>+1.2%, −3.4%: a fraction as a signed percentage with one decimal; one that rounds to zero is +0.0%.</summary>
    public static string SignedPercent(double fraction)
    {
        double percent = Math.Round(100 * fraction, 1);
        return (percent == 0 ? 0.0 : percent).ToString("+0.0;-0.0", CultureInfo.InvariantCulture) + "%";
    }

    public Dictionary<string, object?> ToJson()
    {
        Dictionary<string, object?> json = Measured.ToJson(Efficiency);
        json["predicted"] = new Dictionary<string, object?>(Predicted.ToJson(PredictedEfficiency)) { ["error"] = Error };
        return json;
    }
}

/// <summary>A point the cost model projects, with S2 in float32 or bfloat16 (<paramref name="Squares"/>); efficiency against the model's own 1-rank point.</summary>
internal sealed record ProjectedRow(string Squares, ScalingPoint Point, double Efficiency)
{
    public const string Header =
        "# mode      ranks    kappa  squares     compute       comm    fixed      total    samples/s    MB/step  efficiency\n" +
        "#                                          (ms)       (ms)     (ms)       (ms)";

    public string Format()
    {
        ScalingPoint p = Point;
        return string.Format(CultureInfo.InvariantCulture, "  {0,-6} {1,8} {2,8}  {3,-9} {4,10:F2} {5,10:F3} {6,8:F2} {7,10:F2} {8,12:F0} {9,10:F3} {10,11:F3}",
            p.Mode, p.Ranks, p.Kappa, Squares, p.Ms.Compute, p.Ms.Communication, p.Ms.Optimizer + p.Ms.Statistics + p.Ms.Other, p.StepMs,
            p.SamplesPerSecond, p.BytesPerStep / 1e6, Efficiency);
    }

    public Dictionary<string, object?> ToJson()
    {
        Dictionary<string, object?> json = Point.ToJson(Efficiency);
        json["squares"] = Squares;
        return json;
    }
}
